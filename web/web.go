// Package web holds the HTML templates and static assets compiled into the
// server binary, so a release is a single file with nothing to copy beside it.
package web

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed templates static
var files embed.FS

// Templates returns the HTML templates, rooted at the templates directory.
func Templates() (fs.FS, error) {
	return sub("templates")
}

// Static returns the static assets, rooted at the static directory.
func Static() (fs.FS, error) {
	return sub("static")
}

func sub(dir string) (fs.FS, error) {
	f, err := fs.Sub(files, dir)
	if err != nil {
		return nil, fmt.Errorf("opening embedded %s: %w", dir, err)
	}
	return f, nil
}
