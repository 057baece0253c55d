//go:build !linux

package orchestrate

// portHolder cannot name the process outside Linux; the port alone is reported.
func portHolder(int) string { return "" }
