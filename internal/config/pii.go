package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// PIIMasterKeyBytes is the length of PII_MASTER_KEY (an AES-256 key).
const PIIMasterKeyBytes = 32

// PII configures the encryption of personal data.
type PII struct {
	// MasterKey is PII_MASTER_KEY, or the contents of the file PII_MASTER_KEY_FILE: 32 random
	// bytes in standard base64 (`workingtracker keys generate`). It wraps every tenant's data
	// keys. Empty in development: a key generated under DATA_DIR; production refuses to start
	// without one.
	MasterKey []byte
}

func (p *PII) fromEnv(getenv func(string) string) error {
	key, keyFile := getenv("PII_MASTER_KEY"), getenv("PII_MASTER_KEY_FILE")
	source := "PII_MASTER_KEY"
	switch {
	case key != "" && keyFile != "":
		return errors.New("set PII_MASTER_KEY or PII_MASTER_KEY_FILE, not both")
	case keyFile != "":
		raw, err := os.ReadFile(keyFile)
		if err != nil {
			return fmt.Errorf("PII_MASTER_KEY_FILE: %w", err)
		}
		key, source = string(raw), "PII_MASTER_KEY_FILE's contents"
	}
	key = strings.TrimSpace(key)
	if key == "" {
		if keyFile != "" {
			return errors.New("PII_MASTER_KEY_FILE is empty")
		}
		return nil
	}
	// The key itself never appears in an error: only what is wrong with it.
	decoded, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return fmt.Errorf("%s is not standard base64 (generate a key with `workingtracker keys generate`)", source)
	}
	if len(decoded) != PIIMasterKeyBytes {
		return fmt.Errorf("%s must decode to %d bytes, not %d (generate a key with `workingtracker keys generate`)",
			source, PIIMasterKeyBytes, len(decoded))
	}
	p.MasterKey = decoded
	return nil
}
