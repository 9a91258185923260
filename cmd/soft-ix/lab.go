package main

import (
	"fmt"
	"io"
)

// runLab is "soft-ix lab": filled in once package integration/nslab lands.
func runLab(o *options, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "soft-ix lab: not available in this build yet")
	return exitFail
}
