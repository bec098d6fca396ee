package all

import _ "github.com/dillgo/ws/bench/internal/libs/dillws" // the library under test
