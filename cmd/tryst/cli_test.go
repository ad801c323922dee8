package main

import (
	"runtime"
	"strings"
	"testing"
)

// TestHelpExitsZeroAndNamesEveryFlag runs --help on every command: it
// must succeed and describe each of the command's flags.
func TestHelpExitsZeroAndNamesEveryFlag(t *testing.T) {
	for _, tt := range []struct {
		args  []string
		flags []string
	}{
		{[]string{"--help"}, []string{"serve", "check", "smp probe", "token", "masterkey generate", "version"}},
		{[]string{"serve", "--help"}, []string{"-services", "-addr", "-database-url", "-push-config", "[$TRYST_SERVICES]", "[$TRYST_MASTER_KEY_FILE]"}},
		{[]string{"check", "--help"}, []string{"-flavour", "-mount", "-json", "-quick", "-timeout", "-max-skew", "-origin"}},
		{[]string{"smp", "probe", "--help"}, []string{"-notifier-id", "-notifier-key", "-wait", "-timeout", "-json"}},
		{[]string{"token", "--help"}, []string{"dh-key", "open-verification", "open-message"}},
		{[]string{"token", "open-message", "--help"}, []string{"-app-key", "-server-key", "-nonce", "-message"}},
		{[]string{"token", "dh-key", "--help"}, []string{"-app-key"}},
		{[]string{"masterkey", "generate", "--help"}, []string{"-out"}},
		{[]string{"token", "open-verification", "--help"}, []string{"-app-key", "-server-key", "-nonce", "-verification"}},
	} {
		var out strings.Builder
		if err := run(t.Context(), tt.args, func(string) string { return "" }, &out); err != nil {
			t.Errorf("tryst %s = %v, want success", strings.Join(tt.args, " "), err)
			continue
		}
		for _, f := range tt.flags {
			if !strings.Contains(out.String(), f) {
				t.Errorf("tryst %s does not describe %s:\n%s", strings.Join(tt.args, " "), f, out.String())
			}
		}
	}
}

func TestVersion(t *testing.T) {
	var out strings.Builder
	if err := run(t.Context(), []string{"version"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "tryst ") || !strings.Contains(got, " commit ") || !strings.Contains(got, runtime.Version()) {
		t.Errorf("version = %q, want tryst <version> commit <hash> %s", got, runtime.Version())
	}
}
