package jobspec

import (
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	"github.com/zclconf/go-cty/cty/gocty"
)

// The IP network functions Nomad's job files share with Terraform's:
// cidrhost, cidrnetmask, cidrsubnet and cidrsubnets, for IPv4 and IPv6.

// parseCIDR reads a prefix; its address may have host bits set
// ("10.1.2.3/8" is 10.0.0.0/8).
func parseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR prefix %q: %w", s, err)
	}
	return p.Masked(), nil
}

func addrInt(a netip.Addr) *big.Int { return new(big.Int).SetBytes(a.AsSlice()) }

func intAddr(n *big.Int, v4 bool) netip.Addr {
	size := 16
	if v4 {
		size = 4
	}
	b := n.FillBytes(make([]byte, size))
	a, _ := netip.AddrFromSlice(b)
	return a
}

// offset is the network's address plus n units of 2^shift.
func offset(p netip.Prefix, n *big.Int, shift int) netip.Addr {
	v := new(big.Int).Lsh(n, uint(shift))
	return intAddr(v.Add(v, addrInt(p.Addr())), p.Addr().Is4())
}

func bigArg(v cty.Value) (*big.Int, error) {
	f := v.AsBigFloat()
	if !f.IsInt() {
		return nil, errors.New("must be a whole number")
	}
	n, _ := f.Int(nil)
	return n, nil
}

var cidrhostFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "prefix", Type: cty.String}, {Name: "hostnum", Type: cty.Number}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		p, err := parseCIDR(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		host, err := bigArg(args[1])
		if err != nil {
			return cty.NilVal, fmt.Errorf("hostnum %w", err)
		}
		hostBits := p.Addr().BitLen() - p.Bits()
		size := new(big.Int).Lsh(big.NewInt(1), uint(hostBits))
		if host.Sign() < 0 {
			host.Add(host, size)
		}
		if host.Sign() < 0 || host.Cmp(size) >= 0 {
			return cty.NilVal, fmt.Errorf("prefix %s has %s addresses: host number %s is out of range", p, size, args[1].AsBigFloat().Text('f', 0))
		}
		return cty.StringVal(offset(p, host, 0).String()), nil
	},
})

var cidrnetmaskFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "prefix", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		p, err := parseCIDR(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		if !p.Addr().Is4() {
			return cty.NilVal, fmt.Errorf("cidrnetmask takes an IPv4 prefix; %s is IPv6", p)
		}
		return cty.StringVal(net.IP(net.CIDRMask(p.Bits(), 32)).String()), nil
	},
})

// subnet is the netnum'th subnet of p with newbits more prefix bits.
func subnet(p netip.Prefix, newbits int, netnum *big.Int) (netip.Prefix, error) {
	bits := p.Addr().BitLen()
	newLen := p.Bits() + newbits
	if newbits < 0 || newLen > bits {
		return netip.Prefix{}, fmt.Errorf("prefix %s cannot take %d more bits (it has %d)", p, newbits, bits)
	}
	limit := new(big.Int).Lsh(big.NewInt(1), uint(newbits))
	if netnum.Sign() < 0 || netnum.Cmp(limit) >= 0 {
		return netip.Prefix{}, fmt.Errorf("prefix %s has %s subnets of %d more bits: number %s is out of range", p, limit, newbits, netnum)
	}
	return netip.PrefixFrom(offset(p, netnum, bits-newLen), newLen), nil
}

var cidrsubnetFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "prefix", Type: cty.String}, {Name: "newbits", Type: cty.Number}, {Name: "netnum", Type: cty.Number}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		p, err := parseCIDR(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		var newbits int
		if err := gocty.FromCtyValue(args[1], &newbits); err != nil {
			return cty.NilVal, fmt.Errorf("newbits: %w", err)
		}
		netnum, err := bigArg(args[2])
		if err != nil {
			return cty.NilVal, fmt.Errorf("netnum %w", err)
		}
		s, err := subnet(p, newbits, netnum)
		if err != nil {
			return cty.NilVal, err
		}
		return cty.StringVal(s.String()), nil
	},
})

// cidrsubnets allocates consecutive subnets of p, one for each newbits
// argument, each aligned to its own size and after the one before.
var cidrsubnetsFunc = function.New(&function.Spec{
	Params:   []function.Parameter{{Name: "prefix", Type: cty.String}},
	VarParam: &function.Parameter{Name: "newbits", Type: cty.Number},
	Type:     function.StaticReturnType(cty.List(cty.String)),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		p, err := parseCIDR(args[0].AsString())
		if err != nil {
			return cty.NilVal, err
		}
		if len(args) == 1 {
			return cty.ListValEmpty(cty.String), nil
		}
		bits := p.Addr().BitLen()
		base := addrInt(p.Addr())
		next := new(big.Int).Set(base) // first address not yet given out
		out := make([]cty.Value, 0, len(args)-1)
		for i, a := range args[1:] {
			var nb int
			if err := gocty.FromCtyValue(a, &nb); err != nil {
				return cty.NilVal, function.NewArgErrorf(i+1, "newbits: %v", err)
			}
			if nb < 1 || p.Bits()+nb > bits {
				return cty.NilVal, function.NewArgErrorf(i+1, "prefix %s cannot take %d more bits", p, nb)
			}
			shift := uint(bits - p.Bits() - nb)
			// Round next up to a multiple of this subnet's size, counted
			// from the network's address.
			rel := new(big.Int).Sub(next, base)
			num := new(big.Int).Rsh(new(big.Int).Add(rel, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), shift), big.NewInt(1))), shift)
			s, err := subnet(p, nb, num)
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(i+1, "not enough room left in %s: %v", p, err)
			}
			out = append(out, cty.StringVal(s.String()))
			next = new(big.Int).Add(addrInt(s.Addr()), new(big.Int).Lsh(big.NewInt(1), shift))
		}
		return cty.ListVal(out), nil
	},
})

// lengthFunc is length for strings too (their characters), as Nomad's
// and Terraform's length is.
var lengthFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true, AllowUnknown: true, AllowMarked: true}},
	Type: func(args []cty.Value) (cty.Type, error) {
		t := args[0].Type()
		if t == cty.String || t == cty.DynamicPseudoType || t.IsListType() || t.IsMapType() || t.IsSetType() || t.IsTupleType() || t.IsObjectType() {
			return cty.Number, nil
		}
		return cty.NilType, errors.New("argument must be a string, a collection type, or a structural type")
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v := args[0]
		switch {
		case v.Type() == cty.String:
			return stdlib.Strlen(v)
		case v.Type().IsObjectType():
			if !v.IsKnown() {
				return cty.UnknownVal(cty.Number), nil
			}
			return cty.NumberIntVal(int64(len(v.Type().AttributeTypes()))), nil
		}
		return stdlib.Length(v)
	},
})

func init() {
	functions["cidrhost"] = cidrhostFunc
	functions["cidrnetmask"] = cidrnetmaskFunc
	functions["cidrsubnet"] = cidrsubnetFunc
	functions["cidrsubnets"] = cidrsubnetsFunc
	functions["length"] = lengthFunc
}
