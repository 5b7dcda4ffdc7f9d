package main

import (
	"context"

	"github.com/workingtracker/api/store"
)

// Audit actions of the commands that change a tenant's security configuration outside the API:
// which operations its BI keys may run, and the keys its personal data is encrypted with.
const (
	actionOperationsPush = "operations.push"
	actionKeysRotate     = "keys.rotate"
	actionKeysRetire     = "keys.retire"
)

// commandAudit returns ctx carrying the audit entry of a command's change (actor SYSTEM, reason
// the command line): the first transaction of the command that writes records it before it
// commits, as a mutation's transaction records the mutation's (store.PendingAudit), so the
// change and its entry commit together or not at all.
func commandAudit(ctx context.Context, action, resourceType, command string, changed ...string) context.Context {
	return store.WithPendingAudit(ctx, &store.PendingAudit{Entry: store.AuditEntry{ActorType: store.AuditActorSystem,
		Action: action, ResourceType: resourceType, ChangedFields: changed, Reason: "workingtracker " + command}})
}
