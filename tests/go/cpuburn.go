// Writes a Go CPU profile (with pprof labels) and a heap profile, so the
// spanprof pprof reader can be checked against what the Go runtime writes.
//
//	GO111MODULE=off go run cpuburn.go CPU_OUT HEAP_OUT [SECONDS]
package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"
)

var sink []byte
var keep [][]byte

//go:noinline
func spin(until time.Time) uint64 {
	var x uint64 = 1
	for time.Now().Before(until) {
		for i := 0; i < 100000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	return x
}

//go:noinline
func allocate(n int) {
	for i := 0; i < n; i++ {
		b := make([]byte, 1024+i%4096)
		if i%8 == 0 {
			keep = append(keep, b) // stays live: shows up as inuse
		}
		sink = b
	}
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: cpuburn CPU_OUT HEAP_OUT [SECONDS]")
		os.Exit(2)
	}
	secs := 1.0
	if len(os.Args) > 3 {
		secs, _ = strconv.ParseFloat(os.Args[3], 64)
	}
	runtime.MemProfileRate = 4096
	cpu, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		panic(err)
	}
	half := time.Duration(secs * float64(time.Second) / 2)
	pprof.Do(context.Background(), pprof.Labels("span_id", "00f067aa0ba902b7", "thread_name", "burner"),
		func(context.Context) { spin(time.Now().Add(half)) })
	spin(time.Now().Add(half))
	allocate(20000)
	pprof.StopCPUProfile()
	cpu.Close()

	runtime.GC()
	heap, err := os.Create(os.Args[2])
	if err != nil {
		panic(err)
	}
	if err := pprof.WriteHeapProfile(heap); err != nil {
		panic(err)
	}
	heap.Close()
}
