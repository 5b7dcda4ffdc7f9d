package store

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"

	"github.com/google/uuid"
)

// AuditHashVersion prefixes the encoding an entry's hash covers; a change of the encoding
// changes it.
const AuditHashVersion = "workingtracker.audit.v1"

// GenesisAuditHash is the previous hash of a tenant's first entry: 32 zero bytes.
var GenesisAuditHash = make([]byte, sha256.Size)

// AuditHash is the hash of an entry: SHA-256 over this canonical encoding of its fields, in
// this order, and of the previous entry's hash (so each hash covers the whole chain before it):
//
//	"workingtracker.audit.v1" 0x00
//	tenant_id        16 bytes (the uuid's bytes)
//	seq              int64, big-endian
//	id               16 bytes
//	occurred_at      int64 big-endian: Unix microseconds (UTC; the column's precision)
//	actor_type       str
//	actor_id         opt-uuid
//	action           str
//	resource_type    str
//	resource_id      opt-uuid
//	changed_fields   uint32 big-endian count, then each field as str, in stored order
//	count            int64 big-endian
//	reason           str
//	request_id       str
//	client_ip        str
//	user_agent       str
//	previous_hash    32 bytes
//
// where str is a uint32 big-endian byte length then the UTF-8 bytes (an absent text, NULL in
// the table, encodes as the empty one: the store writes "" as NULL), and opt-uuid is 0x00 for
// an absent id or 0x01 then its 16 bytes. Lengths make the encoding unambiguous: no two
// different entries encode alike.
func AuditHash(l *AuditLog) []byte {
	h := sha256.New()
	var buf [8]byte
	putInt := func(v int64) {
		binary.BigEndian.PutUint64(buf[:], uint64(v))
		h.Write(buf[:8])
	}
	putLen := func(n int) {
		binary.BigEndian.PutUint32(buf[:4], uint32(n))
		h.Write(buf[:4])
	}
	putStr := func(s string) {
		putLen(len(s))
		h.Write([]byte(s))
	}
	h.Write([]byte(AuditHashVersion))
	h.Write([]byte{0})
	h.Write(l.TenantID[:])
	putInt(l.Seq)
	h.Write(l.ID[:])
	putInt(l.OccurredAt.UnixMicro())
	putStr(l.ActorType)
	putOptUUID(h, l.ActorID)
	putStr(l.Action)
	putStr(deref(l.ResourceType))
	putOptUUID(h, l.ResourceID)
	putLen(len(l.ChangedFields))
	for _, f := range l.ChangedFields {
		putStr(f)
	}
	putInt(int64(l.Count))
	putStr(deref(l.Reason))
	putStr(deref(l.RequestID))
	putStr(deref(l.ClientIP))
	putStr(deref(l.UserAgent))
	h.Write(l.PreviousHash)
	return h.Sum(nil)
}

func putOptUUID(h hash.Hash, id *uuid.UUID) {
	if id == nil {
		h.Write([]byte{0})
		return
	}
	h.Write([]byte{1})
	h.Write(id[:])
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
