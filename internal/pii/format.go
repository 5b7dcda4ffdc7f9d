package pii

import (
	"strings"

	"github.com/almerlucke/go-iban/iban"

	"github.com/workingtracker/api/internal/apperr"
)

// Formats of the personal data: each value is checked and brought to one canonical form before
// it is encrypted, so that what is revealed is tidy and what is indexed does not depend on how
// it was typed. Spaces and dashes anywhere, and the case of letters, never matter.
//
//   - SSN: nine digits, ddd-dd-dddd; the area is not 000, 666 or 9xx, the group not 00, the
//     serial not 0000 (numbers the Social Security Administration never issues).
//   - TAX_ID: a US EIN, dd-ddddddd, whose prefix is one the IRS assigns, or an ITIN,
//     9dd-dd-dddd, whose middle digits are in the ITIN ranges. Typed with dashes, their place
//     tells which one is meant; typed without, an ITIN-shaped number is an ITIN.
//   - PASSPORT_NUMBER: 6 to 9 letters and digits, uppercased.
//   - BANK_ACCOUNT: an IBAN of a known country, of that country's length and with its mod-97
//     check digits right; kept in its electronic form (no spaces, uppercase).
//
// Errors are BAD_USER_INPUT naming the input field and the expected format, never the value.

// formats describes each field's expected form, as error messages state it.
var formats = map[string]string{
	SSN:            "a US Social Security number, ddd-dd-dddd (area not 000, 666 or 900-999; group not 00; serial not 0000)",
	TaxID:          "a US EIN (dd-ddddddd, with a prefix the IRS assigns) or an ITIN (9dd-dd-dddd)",
	PassportNumber: "a passport number of 6 to 9 letters and digits",
	BankAccount:    "an IBAN with valid check digits and its country's length, e.g. GB82 WEST 1234 5698 7654 32",
}

// inputNames are the fields' names in EmployeePIIInput (and RevealedPII).
var inputNames = map[string]string{
	SSN:            "ssn",
	TaxID:          "taxId",
	PassportNumber: "passportNumber",
	BankAccount:    "bankAccount",
}

// InputName is field's name in GraphQL inputs and results (ssn, taxId, passportNumber,
// bankAccount); "" for an unknown field.
func InputName(field string) string { return inputNames[field] }

// Normalise checks value as field's kind of data and returns its canonical form (the form
// encrypted and revealed). A value of the wrong form is BAD_USER_INPUT on input (the name of
// the argument or input field to blame), with the expected format and without the value.
func Normalise(field, value, input string) (string, error) {
	c := compact(value)
	var out string
	var ok bool
	switch field {
	case SSN:
		out, ok = ssn(c)
	case TaxID:
		out, ok = taxID(value, c)
	case PassportNumber:
		out, ok = passport(c)
	case BankAccount:
		out, ok = bankAccount(c)
	default:
		return "", apperr.Invalid(input, "unknown kind of personal data")
	}
	if !ok {
		return "", apperr.Invalid(input, "%s must be %s", input, formats[field])
	}
	return out, nil
}

// IndexForm is what the blind index of a canonical value is computed over: the value without
// spaces and dashes, uppercased, so "123-45-6789" and "123 45 6789" are one identifier.
func IndexForm(canonical string) string { return compact(canonical) }

// masks are the fully masked forms: one per field whatever the value, so that a mask tells
// nothing of the value, its length included.
var masks = map[string]string{
	SSN:            "***-**-****",
	TaxID:          "**-*******",
	PassportNumber: "*********",
	BankAccount:    "**** **** **** ****",
}

// Mask is field's full mask ("***-**-****"); it needs no decryption.
func Mask(field string) string { return masks[field] }

// sharedMasks are masks behind pointers, one per field for the whole process.
var sharedMasks = func() map[string]*string {
	out := make(map[string]*string, len(masks))
	for field, mask := range masks {
		out[field] = &mask
	}
	return out
}()

// SharedMask is Mask(field) behind a pointer every caller shares (nil for an unknown field), for
// results gqlgen reads as *string: a page of masked fields allocates none. Never write through
// it.
func SharedMask(field string) *string { return sharedMasks[field] }

// LastFour is field's mask with its last four '*' replaced by the last four characters of the
// canonical value ("***-**-6789", "**** **** **** 3456").
func LastFour(field, canonical string) string {
	mask := []byte(masks[field])
	j := len(canonical) - 1
	for i, n := len(mask)-1, 0; i >= 0 && n < 4; i-- {
		if mask[i] != '*' {
			continue
		}
		// The value's characters from its end, spaces and dashes skipped.
		for j >= 0 && (canonical[j] == ' ' || canonical[j] == '-') {
			j--
		}
		if j < 0 {
			break
		}
		mask[i] = canonical[j]
		j--
		n++
	}
	return string(mask)
}

// compact removes spaces and dashes and uppercases ASCII letters.
func compact(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == ' ' || r == '-' || r == '\t':
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func ssn(c string) (string, bool) {
	if len(c) != 9 || !allDigits(c) {
		return "", false
	}
	area, group, serial := c[:3], c[3:5], c[5:]
	if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
		return "", false
	}
	return area + "-" + group + "-" + serial, true
}

// einPrefixes are the EIN prefixes the IRS assigns (its campus codes).
var einPrefixes = func() map[string]bool {
	m := map[string]bool{}
	for _, r := range [][2]int{{1, 6}, {10, 16}, {20, 27}, {30, 39}, {40, 48}, {50, 68}, {71, 77}, {80, 88}, {90, 95}, {98, 99}} {
		for p := r[0]; p <= r[1]; p++ {
			m[string([]byte{byte('0' + p/10), byte('0' + p%10)})] = true
		}
	}
	return m
}()

// itinGroup reports whether the 4th and 5th digits of an ITIN are in its ranges
// (50–65, 70–88, 90–92, 94–99).
func itinGroup(g string) bool {
	n := int(g[0]-'0')*10 + int(g[1]-'0')
	return n >= 50 && n <= 65 || n >= 70 && n <= 88 || n >= 90 && n <= 92 || n >= 94 && n <= 99
}

func taxID(raw, c string) (string, bool) {
	if len(c) != 9 || !allDigits(c) {
		return "", false
	}
	itin := c[0] == '9' && itinGroup(c[3:5])
	ein := einPrefixes[c[:2]]
	// Dashes typed where one form has them say which is meant.
	dashes := strings.ReplaceAll(strings.TrimSpace(raw), " ", "")
	switch {
	case strings.Count(dashes, "-") == 1 && strings.Index(dashes, "-") == 2:
		itin = false
	case strings.Count(dashes, "-") == 2 && strings.Index(dashes, "-") == 3 && strings.LastIndex(dashes, "-") == 6:
		ein = false
	case strings.Contains(dashes, "-"):
		return "", false
	}
	switch {
	case itin:
		return c[:3] + "-" + c[3:5] + "-" + c[5:], true
	case ein:
		return c[:2] + "-" + c[2:], true
	}
	return "", false
}

func passport(c string) (string, bool) {
	if len(c) < 6 || len(c) > 9 {
		return "", false
	}
	for i := 0; i < len(c); i++ {
		if !(c[i] >= '0' && c[i] <= '9' || c[i] >= 'A' && c[i] <= 'Z') {
			return "", false
		}
	}
	return c, true
}

func bankAccount(c string) (string, bool) {
	// The longest IBAN is 34 characters; the library checks the country's exact length.
	if len(c) < 15 || len(c) > 34 {
		return "", false
	}
	code, err := iban.NewIBAN(c)
	if err != nil {
		return "", false
	}
	return code.Code, true
}
