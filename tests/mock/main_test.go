package mock

import (
	"testing"

	"xgen-infra/internal/testkit/sitetest"
)

func TestMain(m *testing.M) { sitetest.Main(m) }
