// The blank import below is the only thing that keeps golang.org/x/crypto,
// a module the project requires, in go.mod: ike/crypto does X25519 with the
// standard library's crypto/ecdh and the IKE codec is hand-written, so no
// package imports x/crypto for real. Delete this file when one does (or
// when the module is dropped from go.mod on purpose).
package main

import _ "golang.org/x/crypto/cryptobyte"
