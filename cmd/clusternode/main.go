// Command clusternode runs a Roster node.
package main

func main() {}
