//go:build tools

// Package tools pins what this module builds.
package tools

import _ "github.com/docker/compose/v5/cmd"
