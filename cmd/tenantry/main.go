// Command tenantry is the one binary: API, projector, workers, migrations and operator tools
// (package platform holds all of it, so that a product's own binary runs the same platform).
package main

import "github.com/tenantry/tenantry/cmd/tenantry/platform"

func main() { platform.Main() }
