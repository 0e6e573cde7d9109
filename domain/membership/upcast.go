package membership

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// UpcastInvitationRevokedV1 turns a version 1 invitation.revoked payload,
// {"invitation_id": ...}, into version 2 JSON. Version 1 was only ever written
// by an admin's explicit revocation, so its reason is InvitationRevokedByAdmin.
// Unknown fields are ignored because history may carry them; a payload that is
// not a JSON object, or whose invitation id is not a uuid, is an error.
func UpcastInvitationRevokedV1(data []byte) ([]byte, error) {
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) {
		return nil, fmt.Errorf("upcast %s v1: payload is not a JSON object", TypeInvitationRevoked)
	}
	var v1 struct {
		InvitationID uuid.UUID `json:"invitation_id"`
	}
	if err := json.Unmarshal(data, &v1); err != nil {
		return nil, fmt.Errorf("upcast %s v1: %w", TypeInvitationRevoked, err)
	}
	out, err := json.Marshal(InvitationRevoked{InvitationID: v1.InvitationID, Reason: InvitationRevokedByAdmin})
	if err != nil {
		return nil, fmt.Errorf("upcast %s v1: %w", TypeInvitationRevoked, err)
	}
	return out, nil
}
