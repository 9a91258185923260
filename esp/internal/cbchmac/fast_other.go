//go:build !amd64 || purego

package cbchmac

// fastSuite is empty where there is no assembly: every call takes the
// pure-Go path.
type fastSuite struct{}

func (f *fastSuite) init(encKey, macKey []byte, h Hash) {}

func (f *fastSuite) sealBatch(s *Suite, jobs []Job) bool { return false }

func (f *fastSuite) openBatch(s *Suite, jobs []Job, ok []bool) bool { return false }

func (f *fastSuite) macData(sum *[64]byte, data []byte) bool { return false }
