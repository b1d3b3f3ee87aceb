package sites

import "path/filepath"

var filepathGlob = filepath.Glob
