package presence_test

import (
	"cpimgw/presence"
	"cpimgw/sipside"
	"cpimgw/xmppside"
)

// The adapters satisfy the sides' handler contracts (the core itself may
// not import the sides: arch_test.go).
var (
	_ sipside.PresenceHandler  = presence.SIPEvents{}
	_ xmppside.PresenceHandler = presence.XMPPEvents{}
)
