// Blank imports hold required modules in go.mod that no package imports
// for real yet. Delete this file once both are imported (or dropped from
// go.mod on purpose).
package main

import (
	_ "golang.org/x/crypto/cryptobyte"
	_ "golang.org/x/crypto/curve25519"
)
