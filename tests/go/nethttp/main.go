// A net/http client and server on loopback; argv[1] = requests (3000).
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	body := strings.Repeat("x", 1<<16)
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }))
	url := "http://" + ln.Addr().String() + "/"
	rounds := 3000
	if len(os.Args) > 1 {
		rounds, _ = strconv.Atoi(os.Args[1])
	}
	total := 0
	for i := 0; i < rounds; i++ {
		resp, err := http.Get(url)
		if err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		total += int(n)
	}
	fmt.Println("bytes", total)
}
