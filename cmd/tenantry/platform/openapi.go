package platform

import (
	"os"

	"github.com/spf13/cobra"

	httpapi "github.com/tenantry/tenantry/http"
)

// openapiCmd prints the API's OpenAPI document (what GET /openapi.json answers, indented),
// or writes it to a file: `make openapi-lint` lints that file.
func (a *app) openapiCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "openapi [--out FILE]",
		Short: "Print the API's OpenAPI 3.1 document (as GET /openapi.json answers it), or write it to FILE",
		Args:  usageArgs(cobra.NoArgs),
		// The document is derived from the code: no configuration is needed (the products are
		// still checked).
		PersistentPreRunE: a.productsChecked,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, err := httpapi.DocumentJSON()
			if err != nil {
				return err
			}
			doc = append(doc, '\n')
			if out == "" {
				_, err = a.stdout.Write(doc)
				return err
			}
			return os.WriteFile(out, doc, 0o644)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the document to this file instead of standard output")
	return cmd
}
