package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"

	"example.com/ginsvc/internal/version"
	"example.com/ginsvc/web"
)

type indexData struct {
	ServiceName string
	Version     version.Info
}

func registerWeb(r *gin.Engine, serviceName string, info version.Info, enableCache bool) error {
	templates, err := web.Templates()
	if err != nil {
		return err
	}
	tmpl, err := template.ParseFS(templates, "*.html")
	if err != nil {
		return fmt.Errorf("parsing templates: %w", err)
	}
	r.SetHTMLTemplate(tmpl)

	static, err := web.Static()
	if err != nil {
		return err
	}
	etags, err := hashFiles(static)
	if err != nil {
		return fmt.Errorf("hashing static files: %w", err)
	}

	data := indexData{ServiceName: serviceName, Version: info}
	getAndHead(r, "/", func(c *gin.Context) {
		// The page shows the running version, so it must not outlive a deploy.
		c.Header("Cache-Control", "no-cache")
		c.HTML(http.StatusOK, "index.html", data)
	})

	cacheControl := "no-cache"
	if enableCache {
		cacheControl = "public, max-age=86400"
	}
	serve := staticHandler(static, etags, cacheControl)
	getAndHead(r, "/static/*filepath", serve)
	return nil
}

// staticHandler serves files from fsys. Unlike http.FileServer it never lists
// directories. Embedded files carry no modification time, so a content hash
// serves as ETag to keep "no-cache" revalidation cheap (304s).
func staticHandler(fsys fs.FS, etags map[string]string, cacheControl string) gin.HandlerFunc {
	return func(c *gin.Context) {
		name := strings.TrimPrefix(path.Clean(c.Param("filepath")), "/")
		etag, ok := etags[name]
		if !ok {
			c.JSON(http.StatusNotFound, gin.H{"error": "not found"})
			return
		}
		c.Header("Cache-Control", cacheControl)
		c.Header("ETag", etag)
		http.ServeFileFS(c.Writer, c.Request, fsys, name)
	}
}

// hashFiles returns a strong ETag for every regular file in fsys; it also
// serves as the set of names that may be served.
func hashFiles(fsys fs.FS) (map[string]string, error) {
	etags := make(map[string]string)
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		etags[name] = `"` + hex.EncodeToString(sum[:16]) + `"`
		return nil
	})
	if err != nil {
		return nil, err
	}
	return etags, nil
}
