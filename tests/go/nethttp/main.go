package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
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
	total := 0
	for i := 0; i < 3000; i++ {
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
