// Package version holds nomadic's version, set at build time with
// -ldflags "-X github.com/nomadic-project/nomadic/pkg/version.Version=...".
package version

// Version is the version of this build.
var Version = "0.1.0-dev"
