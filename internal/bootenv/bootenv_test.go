package bootenv

import "testing"

func TestValidGinMode(t *testing.T) {
	for v, want := range map[string]bool{
		"": true, "debug": true, "release": true, "test": true,
		"production": false, "Release": false, " debug": false,
	} {
		if got := validGinMode(v); got != want {
			t.Errorf("validGinMode(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestLookupEnvPassesThrough(t *testing.T) {
	t.Setenv("BOOTENV_TEST_VAR", "x")
	if v, ok := LookupEnv("BOOTENV_TEST_VAR"); !ok || v != "x" {
		t.Errorf("LookupEnv = %q, %v", v, ok)
	}
}
