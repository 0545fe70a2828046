package cmd

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every command, generated ones included, has --help with an Example section.
func TestEveryCommandHasHelpAndExample(t *testing.T) {
	root := newRootCommand(newApp(Streams{In: strings.NewReader(""), Out: &strings.Builder{}, Err: &strings.Builder{}}))
	var walk func(c *cobra.Command)
	count := 0
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		count++
		if strings.TrimSpace(c.Example) == "" || c.Short == "" {
			t.Errorf("%q has no Example or Short help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if count < 20 {
		t.Fatalf("walked only %d commands", count)
	}
}
