package web

import (
	"io/fs"
	"testing"
)

func TestEmbeddedFiles(t *testing.T) {
	tmpl, err := Templates()
	if err != nil {
		t.Fatal(err)
	}
	static, err := Static()
	if err != nil {
		t.Fatal(err)
	}
	for fsys, names := range map[fs.FS][]string{
		tmpl:   {"index.html"},
		static: {"style.css", "app.js"},
	} {
		for _, name := range names {
			if _, err := fs.Stat(fsys, name); err != nil {
				t.Errorf("embedded %s: %v", name, err)
			}
		}
	}
}
