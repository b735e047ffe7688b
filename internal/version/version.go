// Package version reports build metadata stamped in at link time, e.g.
//
//	go build -ldflags "-X example.com/ginsvc/internal/version.Version=1.2.3 \
//	  -X example.com/ginsvc/internal/version.Commit=abc1234 \
//	  -X example.com/ginsvc/internal/version.Date=2024-01-01T00:00:00Z"
package version

import (
	"runtime"
	"runtime/debug"
)

// These are variables rather than constants because -ldflags -X can only
// overwrite package-level string variables.
var (
	Version = "dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// Info is the build metadata exposed by /version and logged at startup.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
}

// Get returns the stamped build metadata. When the commit or date were not
// stamped, it falls back to the VCS data the go command embeds on its own, so
// a plain `go build` from a checkout still identifies its source.
func Get() Info {
	info := Info{
		Version:   Version,
		Commit:    Commit,
		Date:      Date,
		GoVersion: runtime.Version(),
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && info.Commit == "unknown" && s.Value != "":
			info.Commit = s.Value
		case s.Key == "vcs.time" && info.Date == "unknown" && s.Value != "":
			info.Date = s.Value
		}
	}
	return info
}
