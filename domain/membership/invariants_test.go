package membership_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
)

// FuzzMembership_InvariantsHold drives random command sequences, decoded from
// the fuzz input, through the real commands and Apply, and checks after every
// step that the invariants hold: at least one admin, no email twice among
// members and live invitations, seats used within the limit, every active API
// key held by a current member whose role covers it, every live invitation
// issued by a current admin, unique key prefixes, and
// every error a coded domain error. Finally, replaying the recorded events must rebuild
// the same state.
func FuzzMembership_InvariantsHold(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0, 0, 0, 0, 1, 1, 1, 1, 3, 3, 4, 4, 5, 5})
	f.Add([]byte{0, 10, 0, 20, 1, 10, 1, 20, 3, 0, 3, 1, 4, 0, 4, 1, 5, 0})
	// Keys: bob (id 2) joins as an editor and is made admin; he gets admin,
	// editor and viewer keys, the editor key is revoked, he is made editor
	// (revoking the admin and viewer keys), gets another editor key and is
	// removed (revoking it).
	f.Add([]byte{0, 1, 1, 1, 3, 1, 7, 1, 7, 19, 7, 37, 8, 19, 3, 7, 7, 31, 4, 1})
	const seats = 4
	roles := domain.Roles()
	emails := []string{"a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io", "f@x.io"}
	f.Fuzz(func(t *testing.T, program []byte) {
		var m membership.Membership
		var history []domain.Event
		clock := now
		mustStep := func(evs []domain.Event) {
			history = append(history, evs...)
			for _, e := range evs {
				if err := m.Apply(e); err != nil {
					t.Fatalf("events from a command failed to apply: %v", err)
				}
			}
		}
		evs, err := m.AddFounder(id(1), email(t, emails[0]), clock)
		if err != nil {
			t.Fatal(err)
		}
		mustStep(evs)
		for i := 0; i+1 < len(program) && i < 400; i += 2 {
			op, arg := program[i]%9, program[i+1]
			member := id(1 + arg%6)
			inv := id(100 + arg%16)
			key := id(200 + arg%16)
			var evs []domain.Event
			var err error
			switch op {
			case 0:
				inviter := id(1)
				if arg%3 == 0 {
					inviter = id(1 + arg/3%6)
				}
				evs, err = m.Invite(inv, email(t, emails[arg%6]), roles[arg%5], inviter, tokenHash(inv),
					clock.Add(time.Duration(arg%4+1)*time.Hour), seats, clock)
			case 1:
				hash := tokenHash(inv)
				if arg%11 == 0 {
					hash = tokenHash(uuid.Nil)
				}
				evs, err = m.Accept(inv, hash, member, seats, clock)
			case 2:
				evs, err = m.RevokeInvitation(inv, clock)
			case 3:
				evs, err = m.ChangeRole(member, roles[arg/6%5], clock)
			case 4:
				evs, err = m.Remove(member, clock)
			case 5:
				clock = clock.Add(time.Duration(arg) * time.Minute)
			case 6:
				evs, err = m.AddFounder(member, email(t, emails[arg%6]), clock)
			case 7:
				evs, err = m.CreateAPIKey(key, member, roles[arg/16%5], "", fmt.Sprintf("p%d", arg%24), keyHash(key), clock)
			case 8:
				evs, err = m.RevokeAPIKey(key, clock)
			}
			if err != nil {
				if domain.ErrorCode(err) == "" {
					t.Fatalf("op %d: uncoded error %v", op, err)
				}
				if evs != nil {
					t.Fatalf("op %d: events %v returned with error %v", op, evs, err)
				}
				continue
			}
			mustStep(evs)
			checkInvariants(t, &m, clock, seats)
		}
		replayed, err := membership.Replay(history)
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		if got, want := snapAt(replayed, clock), snapAt(&m, clock); !reflect.DeepEqual(got, want) {
			t.Fatalf("replay differs:\n got %+v\nwant %+v", got, want)
		}
	})
}

func checkInvariants(t *testing.T, m *membership.Membership, now time.Time, seats int) {
	t.Helper()
	admins := 0
	seen := map[domain.Email]bool{}
	for _, mem := range m.Members() {
		if mem.Role == domain.RoleAdmin {
			admins++
		}
		if seen[mem.Email] {
			t.Fatalf("email %s held twice", mem.Email)
		}
		seen[mem.Email] = true
	}
	for _, inv := range m.Invitations() {
		if inv.Expired(now) {
			continue
		}
		if seen[inv.Email] {
			t.Fatalf("email %s held twice", inv.Email)
		}
		seen[inv.Email] = true
	}
	checkInvitationsHaveAGranter(t, m, now)
	if admins < 1 {
		t.Fatalf("no admin left: %+v", m.Members())
	}
	if used := m.SeatsUsed(now); used > seats || used != len(seen) {
		t.Fatalf("seats used %d, limit %d, distinct holders %d", used, seats, len(seen))
	}
	active := 0
	prefixes := map[string]bool{}
	for _, k := range m.APIKeys() {
		if prefixes[k.Prefix] {
			t.Fatalf("key prefix %s used twice", k.Prefix)
		}
		prefixes[k.Prefix] = true
		if k.Revoked {
			continue
		}
		active++
		mem, ok := m.Member(k.MemberID)
		if !ok {
			t.Fatalf("active key %s of a member who left", k.KeyID)
		}
		if k.Role != mem.Role && mem.Role != domain.RoleAdmin {
			t.Fatalf("active key %s has role %s, its %s member may not hold it", k.KeyID, k.Role, mem.Role)
		}
	}
	if active > membership.MaxActiveAPIKeys {
		t.Fatalf("%d active keys", active)
	}
}
