// Package integration holds tests that build real topologies in network
// namespaces and run soft-ix against real peers: strongSwan (charon with
// kernel-libipsec), BIRD 2 and another soft-ix. They need root and skip
// with a clear reason when a tool or privilege is missing.
package integration
