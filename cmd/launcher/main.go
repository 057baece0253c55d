// Command launcher runs a multi-repo microservices stack with one command.
package main

import "os"

func main() { os.Exit(Main()) }
