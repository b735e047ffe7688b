package version

import (
	"runtime"
	"testing"
)

func TestGetReportsGoVersion(t *testing.T) {
	info := Get()
	if info.GoVersion != runtime.Version() {
		t.Errorf("GoVersion = %q, want %q", info.GoVersion, runtime.Version())
	}
	if info.Version != Version {
		t.Errorf("Version = %q, want %q", info.Version, Version)
	}
	if info.Commit == "" || info.Date == "" {
		t.Errorf("Commit and Date must never be empty, got %+v", info)
	}
}
