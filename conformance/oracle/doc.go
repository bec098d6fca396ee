// Package oracle checks what the ws library delivers from arbitrary bytes
// against an independent decoder, the conformance suite's own frame reader
// and inflater: FuzzRecvOracle. Its seed corpus runs as a test in CI; a
// longer run is
//
//	cd conformance && go test -fuzz FuzzRecvOracle -fuzztime 3m ./oracle/
package oracle
