package membership

import (
	"time"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/domain"
)

// Stored event type names. They are part of the storage format: never rename.
const (
	TypeJoined            = "member.joined"
	TypeInvited           = "member.invited"
	TypeInvitationRevoked = "invitation.revoked"
	TypeRoleChanged       = "member.role_changed"
	TypeRemoved           = "member.removed"
	TypeAPIKeyCreated     = "api_key.created"
	TypeAPIKeyRevoked     = "api_key.revoked"
)

// Joined records a new member, either the founding admin (InvitationID is
// uuid.Nil) or someone accepting an invitation.
type Joined struct {
	MemberID     uuid.UUID    `json:"member_id"`
	Email        domain.Email `json:"email"`
	Role         domain.Role  `json:"role"`
	InvitationID uuid.UUID    `json:"invitation_id"`
}

// EventType implements domain.Event.
func (Joined) EventType() string { return TypeJoined }

// SchemaVersion implements domain.Event.
func (Joined) SchemaVersion() int { return 1 }

// Invited records an invitation. TokenSHA256 is the hex SHA-256 of the
// secret token sent to the invitee; the token itself is never stored.
type Invited struct {
	InvitationID uuid.UUID    `json:"invitation_id"`
	Email        domain.Email `json:"email"`
	Role         domain.Role  `json:"role"`
	InvitedBy    uuid.UUID    `json:"invited_by"`
	TokenSHA256  string       `json:"token_sha256"`
	ExpiresAt    time.Time    `json:"expires_at"`
}

// EventType implements domain.Event.
func (Invited) EventType() string { return TypeInvited }

// SchemaVersion implements domain.Event.
func (Invited) SchemaVersion() int { return 1 }

// Why an invitation was revoked: the stored values of InvitationRevoked.Reason.
const (
	InvitationRevokedByAdmin            = "revoked"              // an admin revoked it
	InvitationRevokedInviterRemoved     = "inviter_removed"      // whoever issued it left the tenant
	InvitationRevokedInviterRoleChanged = "inviter_role_changed" // whoever issued it may no longer grant its role
)

// InvitationRevoked records that a pending invitation can no longer be accepted.
// Reason is one of the InvitationRevoked constants. Version 2 added Reason;
// version 1 payloads are upcast by UpcastInvitationRevokedV1.
type InvitationRevoked struct {
	InvitationID uuid.UUID `json:"invitation_id"`
	Reason       string    `json:"reason"`
}

// EventType implements domain.Event.
func (InvitationRevoked) EventType() string { return TypeInvitationRevoked }

// SchemaVersion implements domain.Event.
func (InvitationRevoked) SchemaVersion() int { return 2 }

// RoleChanged records a member's new role.
type RoleChanged struct {
	MemberID uuid.UUID   `json:"member_id"`
	From     domain.Role `json:"from"`
	To       domain.Role `json:"to"`
}

// EventType implements domain.Event.
func (RoleChanged) EventType() string { return TypeRoleChanged }

// SchemaVersion implements domain.Event.
func (RoleChanged) SchemaVersion() int { return 1 }

// Removed records that a member left or was removed.
type Removed struct {
	MemberID uuid.UUID `json:"member_id"`
}

// EventType implements domain.Event.
func (Removed) EventType() string { return TypeRemoved }

// SchemaVersion implements domain.Event.
func (Removed) SchemaVersion() int { return 1 }

// APIKeyCreated records an API key that acts for MemberID with Role. Prefix is
// the public part of the key, by which a presented key is looked up;
// KeySHA256 is the hex SHA-256 of the whole key, which itself is never stored.
type APIKeyCreated struct {
	KeyID     uuid.UUID   `json:"key_id"`
	MemberID  uuid.UUID   `json:"member_id"`
	Role      domain.Role `json:"role"`
	Name      string      `json:"name"`
	Prefix    string      `json:"prefix"`
	KeySHA256 string      `json:"key_sha256"`
}

// EventType implements domain.Event.
func (APIKeyCreated) EventType() string { return TypeAPIKeyCreated }

// SchemaVersion implements domain.Event.
func (APIKeyCreated) SchemaVersion() int { return 1 }

// Why an API key was revoked: the stored values of APIKeyRevoked.Reason.
const (
	KeyRevokedByAdmin       = "revoked"        // an admin revoked the key
	KeyRevokedMemberRemoved = "member_removed" // its member left the tenant
	KeyRevokedRoleChanged   = "role_changed"   // its member's new role no longer covers the key's role
)

// APIKeyRevoked records that an API key no longer authenticates. Reason is one
// of the KeyRevoked constants.
type APIKeyRevoked struct {
	KeyID  uuid.UUID `json:"key_id"`
	Reason string    `json:"reason"`
}

// EventType implements domain.Event.
func (APIKeyRevoked) EventType() string { return TypeAPIKeyRevoked }

// SchemaVersion implements domain.Event.
func (APIKeyRevoked) SchemaVersion() int { return 1 }
