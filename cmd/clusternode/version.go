package main

// version is the daemon's version, set at build time with
// -ldflags "-X main.version=v1.2.3".
var version = "dev"
