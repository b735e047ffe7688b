package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"example.com/ginsvc/internal/version"
)

func registerVersion(r gin.IRoutes, info version.Info) {
	getAndHead(r, "/version", func(c *gin.Context) {
		c.JSON(http.StatusOK, info)
	})
}
