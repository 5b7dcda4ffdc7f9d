package pii

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// NewMasterKey returns a fresh random master key in PII_MASTER_KEY's form (standard base64 of
// 32 bytes): `workingtracker keys generate`.
func NewMasterKey() (string, error) {
	key := make([]byte, MasterKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("pii: generate master key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(key), nil
}

// LoadOrCreateMasterKey reads the development master key at path (base64), creating a random
// one (0600) when it is missing: development's PII_MASTER_KEY, kept in DATA_DIR like the
// development signing keys. Losing the file makes every encrypted value of that database
// unreadable.
func LoadOrCreateMasterKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		encoded, err := NewMasterKey()
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create key folder: %w", err)
		}
		// Written whole to a temporary file, then linked into place: a process starting at the
		// same time never reads a half-written key, and never overwrites another's.
		tmp, err := os.CreateTemp(filepath.Dir(path), ".pii-master-key-*")
		if err != nil {
			return nil, fmt.Errorf("write pii master key: %w", err)
		}
		defer os.Remove(tmp.Name())
		_, err = tmp.WriteString(encoded + "\n") // CreateTemp's mode is 0600
		if err = errors.Join(err, tmp.Close()); err != nil {
			return nil, fmt.Errorf("write pii master key: %w", err)
		}
		if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
			return LoadOrCreateMasterKey(path)
		} else if err != nil {
			return nil, fmt.Errorf("write pii master key: %w", err)
		}
		return base64.StdEncoding.DecodeString(encoded)
	}
	if err != nil {
		return nil, fmt.Errorf("read pii master key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != MasterKeyBytes {
		return nil, fmt.Errorf("pii master key %s: not the standard base64 of %d bytes", path, MasterKeyBytes)
	}
	return key, nil
}
