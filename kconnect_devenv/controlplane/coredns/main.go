// Command coredns is CoreDNS with only the plugins the node's cluster DNS uses, so that building
// it compiles none of the cloud providers' SDKs. The directives keep CoreDNS's own order
// (core/dnsserver/zdirectives.go of the pinned release); a Corefile naming any other plugin fails
// to load. See ../README.md.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/template"
)

func init() {
	dnsserver.Directives = []string{
		"ready",
		"health",
		"errors",
		"log",
		"loadbalance",
		"cache",
		"template",
		"kubernetes",
	}
}

func main() {
	coremain.Run()
}
