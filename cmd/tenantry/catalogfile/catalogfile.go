// Package catalogfile reads the plan catalog's YAML file (tenantry plans apply): the
// document of domain/plans, decoded strictly and bounded, apart from the platform so that
// its fuzz target builds small.
package catalogfile

import (
	"bytes"
	"errors"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
)

// Read reads a catalog document from YAML strictly: at most
// plans.MaxDocumentBytes, one document, no field the format does not have, then the
// document's own validation (plans.Document.Validate).
func Read(r io.Reader) (plans.Definitions, error) {
	b, err := io.ReadAll(io.LimitReader(r, plans.MaxDocumentBytes+1))
	if err != nil {
		return plans.Definitions{}, err
	}
	if len(b) > plans.MaxDocumentBytes {
		return plans.Definitions{}, domain.Invalid("catalog", "the catalog document is larger than %d bytes", plans.MaxDocumentBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var doc plans.Document
	if err := dec.Decode(&doc); err != nil {
		return plans.Definitions{}, domain.Invalid("catalog", "the catalog document is not valid: %s", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return plans.Definitions{}, domain.Invalid("catalog", "the catalog file holds more than one YAML document")
	}
	return doc.Validate()
}
