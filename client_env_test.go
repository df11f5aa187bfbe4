package workspace

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewClientFromEnv checks the variables, their defaults and that
// options given override them. t.Setenv forbids t.Parallel here.
func TestNewClientFromEnv(t *testing.T) {
	t.Setenv(EnvAPIURL, "")
	t.Setenv(EnvAPIKey, "")
	t.Setenv(EnvTimeout, "")
	c, err := NewClientFromEnv()
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:8080/api/v1/health", c.endpointURL("/health", nil).String())
	assert.Equal(t, "", c.apiKey)
	assert.Equal(t, DefaultTimeout, c.timeout)
	require.NoError(t, c.Close())

	t.Setenv(EnvAPIURL, "https://api.example.com/base/")
	t.Setenv(EnvAPIKey, "k1")
	t.Setenv(EnvTimeout, "45s")
	c, err = NewClientFromEnv()
	require.NoError(t, err)
	assert.Equal(t, "https://api.example.com/base/api/v1/health", c.endpointURL("/health", nil).String())
	assert.Equal(t, "k1", c.apiKey)
	assert.Equal(t, 45*time.Second, c.timeout)
	require.NoError(t, c.Close())

	c, err = NewClientFromEnv(WithAPIKey("k2"), WithTimeout(time.Second))
	require.NoError(t, err)
	assert.Equal(t, "k2", c.apiKey)
	assert.Equal(t, time.Second, c.timeout)
	require.NoError(t, c.Close())

	t.Setenv(EnvTimeout, "soon")
	_, err = NewClientFromEnv()
	assert.ErrorContains(t, err, EnvTimeout)

	t.Setenv(EnvTimeout, "")
	t.Setenv(EnvAPIURL, "ftp://x")
	_, err = NewClientFromEnv()
	assert.Error(t, err)
}

func TestHealthInfoHas(t *testing.T) {
	t.Parallel()
	h := &HealthInfo{Features: []string{FeaturePTY, FeatureFilesRaw}}
	assert.True(t, h.Has(FeaturePTY))
	assert.True(t, h.Has("files.raw"))
	assert.False(t, h.Has(FeaturePorts))
	assert.False(t, (&HealthInfo{}).Has(FeatureBinary))
}
