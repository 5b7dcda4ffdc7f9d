package pii_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/workingtracker/api/internal/apperr"
	"github.com/workingtracker/api/internal/pii"
)

func TestNormalise(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		field, in, want string
	}{
		{pii.SSN, "123-45-6789", "123-45-6789"},
		{pii.SSN, " 123 45 6789 ", "123-45-6789"},
		{pii.SSN, "123456789", "123-45-6789"},
		{pii.SSN, "000-45-6789", ""},
		{pii.SSN, "666-45-6789", ""},
		{pii.SSN, "900-45-6789", ""},
		{pii.SSN, "123-00-6789", ""},
		{pii.SSN, "123-45-0000", ""},
		{pii.SSN, "123-45-678", ""},
		{pii.SSN, "123-45-67890", ""},
		{pii.SSN, "12a-45-6789", ""},
		{pii.SSN, "１23-45-6789", ""}, // a full-width digit is not a digit here
		{pii.TaxID, "12-3456789", "12-3456789"},
		{pii.TaxID, "123456789", "12-3456789"},
		{pii.TaxID, "912-70-1234", "912-70-1234"},
		{pii.TaxID, "912701234", "912-70-1234"},
		{pii.TaxID, "91-2701234", "91-2701234"}, // an EIN of prefix 91, typed as one
		{pii.TaxID, "00-1234567", ""},           // prefix never assigned
		{pii.TaxID, "07-1234567", ""},
		{pii.TaxID, "912-93-1234", ""}, // 93 is no ITIN group, and dashes say ITIN
		{pii.TaxID, "123-45-6789", ""}, // ITIN-shaped dashes on a number not starting with 9
		{pii.TaxID, "1-23456789", ""},
		{pii.TaxID, "12-345678", ""},
		{pii.PassportNumber, "x1234567", "X1234567"},
		{pii.PassportNumber, "AB 12 34", "AB1234"},
		{pii.PassportNumber, "12345", ""},
		{pii.PassportNumber, "1234567890", ""},
		{pii.PassportNumber, "AB12_34", ""},
		{pii.PassportNumber, "ÄB12345", ""},
		{pii.BankAccount, "DE89 3704 0044 0532 0130 00", "DE89370400440532013000"},
		{pii.BankAccount, "gb82west12345698765432", "GB82WEST12345698765432"},
		{pii.BankAccount, "NL91-ABNA-0417-1643-00", "NL91ABNA0417164300"},
		{pii.BankAccount, "DE88 3704 0044 0532 0130 00", ""}, // check digits wrong
		{pii.BankAccount, "DE89 3704 0044 0532 0130 0", ""},  // one short of Germany's 22
		{pii.BankAccount, "ZZ89 3704 0044 0532 0130 00", ""}, // no such country
		{pii.BankAccount, "QQ", ""},
	} {
		t.Run(tc.field+"/"+tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := pii.Normalise(tc.field, tc.in, "input")
			if tc.want == "" {
				require.Error(t, err)
				require.True(t, apperr.Is(err, apperr.BadUserInput))
				var e *apperr.Error
				require.ErrorAs(t, err, &e)
				require.Equal(t, "input", e.Field)
				require.NotContains(t, e.Message, tc.in, "the message never echoes the value")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestIndexFormIgnoresSpacesDashesAndCase(t *testing.T) {
	t.Parallel()
	a, err := pii.Normalise(pii.BankAccount, "gb82 west 1234 5698 7654 32", "v")
	require.NoError(t, err)
	b, err := pii.Normalise(pii.BankAccount, "GB82-WEST-1234-5698-7654-32", "v")
	require.NoError(t, err)
	require.Equal(t, pii.IndexForm(a), pii.IndexForm(b))
	ein, err := pii.Normalise(pii.TaxID, "91-2701234", "v")
	require.NoError(t, err)
	itin, err := pii.Normalise(pii.TaxID, "912-70-1234", "v")
	require.NoError(t, err)
	require.Equal(t, pii.IndexForm(ein), pii.IndexForm(itin), "the same nine digits are one identifier")
}

func TestMasks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ field, canonical, full, lastFour string }{
		{pii.SSN, "123-45-6789", "***-**-****", "***-**-6789"},
		{pii.TaxID, "12-3456789", "**-*******", "**-***6789"},
		{pii.TaxID, "912-70-1234", "**-*******", "**-***1234"},
		{pii.PassportNumber, "X1234567", "*********", "*****4567"},
		{pii.PassportNumber, "AB1234", "*********", "*****1234"},
		{pii.BankAccount, "DE89370400440532013000", "**** **** **** ****", "**** **** **** 3000"},
		{pii.BankAccount, "NO9386011117947", "**** **** **** ****", "**** **** **** 7947"},
	} {
		require.Equal(t, tc.full, pii.Mask(tc.field))
		require.Equal(t, tc.lastFour, pii.LastFour(tc.field, tc.canonical))
	}
}

func TestInputName(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"ssn", "taxId", "passportNumber", "bankAccount"},
		[]string{pii.InputName(pii.SSN), pii.InputName(pii.TaxID), pii.InputName(pii.PassportNumber), pii.InputName(pii.BankAccount)})
}
