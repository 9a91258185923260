// Command soft-ix runs an NEC IX configuration on Linux: IKEv2/ESP tunnels,
// static routes and BGP, with IX-style show and ping commands.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "soft-ix: not yet implemented")
	os.Exit(2)
}
