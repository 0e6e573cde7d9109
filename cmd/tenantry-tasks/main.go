// Command tenantry-tasks is Tenantry plus the projects-and-tasks example product.
package main

import (
	"github.com/tenantry/tenantry/cmd/tenantry-tasks/tasks"
	"github.com/tenantry/tenantry/cmd/tenantry/platform"
)

func main() { platform.Main(tasks.Product()) }
