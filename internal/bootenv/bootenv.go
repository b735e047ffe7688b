// Package bootenv keeps an invalid GIN_MODE from crashing the server before
// main runs, so the value is reported like any other configuration error.
//
// gin checks GIN_MODE in its package initialiser and panics on any value
// other than debug, release or test. This package's initialiser runs first
// and moves such a value out of gin's sight. Go initialises packages in
// import-path order among those whose imports are ready; this package
// imports only os, while gin waits (through net/http) on standard packages
// whose paths begin with "vendor/". Any module path that sorts before
// "vendor/" therefore keeps this package ahead of gin; the server's tests
// fail loudly if that ever stops holding.
package bootenv

import "os"

const ginModeEnv = "GIN_MODE"

// ginMode holds the GIN_MODE value hidden from gin. It is written once during
// package initialisation, before any goroutine can read it.
var ginMode struct {
	value  string
	hidden bool
}

func init() {
	v, ok := os.LookupEnv(ginModeEnv)
	if !ok || validGinMode(v) {
		return
	}
	if err := os.Unsetenv(ginModeEnv); err != nil {
		// Leave the value in place: gin's panic still names it.
		return
	}
	ginMode.value, ginMode.hidden = v, true
}

func validGinMode(v string) bool {
	switch v {
	case "", "debug", "release", "test":
		return true
	}
	return false
}

// LookupEnv is os.LookupEnv, except that it still returns a GIN_MODE value
// that was hidden from gin, so configuration loading can reject it properly.
func LookupEnv(key string) (string, bool) {
	if key == ginModeEnv && ginMode.hidden {
		return ginMode.value, true
	}
	return os.LookupEnv(key)
}
