// A net/http server and client on loopback in one process: N requests, each
// hashing its request body on the server, and a deterministic summary line.
// Built dynamically linked (net uses cgo's resolver), so LD_PRELOAD reaches it.
//
//	GO111MODULE=off go build -o httpsvc httpsvc.go && ./httpsvc [REQUESTS]
package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
)

func work(body []byte) []byte {
	sum := sha256.Sum256(body)
	for i := 0; i < 2000; i++ {
		sum = sha256.Sum256(sum[:])
	}
	return sum[:]
}

func main() {
	n := 400
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hash", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(work(b))
	})
	go http.Serve(ln, mux)
	url := "http://" + ln.Addr().String() + "/hash"

	var mu sync.Mutex
	var wg sync.WaitGroup
	xor := make([]byte, 32)
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := c; i < n; i += 4 {
				resp, err := http.Post(url, "text/plain", bytes.NewReader([]byte(strconv.Itoa(i))))
				if err != nil {
					fmt.Fprintln(os.Stderr, "post:", err)
					os.Exit(1)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				for j := range b {
					xor[j] ^= b[j]
				}
				mu.Unlock()
			}
		}(c)
	}
	wg.Wait()
	fmt.Printf("%d requests, xor %x\n", n, xor)
}
