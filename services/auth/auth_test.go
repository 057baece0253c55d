package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go"
	"github.com/propital/launcher/internal/testenv"
	"github.com/propital/launcher/services/internal/platform"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"golang.org/x/crypto/bcrypt"
)

// TestAuthAgainstMongo: a register whose owner record cannot be made leaves no user behind;
// then register, login, verify, duplicates and expired tokens behave.
func TestAuthAgainstMongo(t *testing.T) {
	in := testenv.StartInfra(t, "mongo")
	ctx := context.Background()
	mc, err := mongo.Connect(ctx, options.Client().ApplyURI(in.MongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Disconnect(ctx)
	s, err := newService(ctx, mc.Database("auth_test"), []byte("test-key"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.cost = bcrypt.MinCost
	nc, err := nats.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s.nc = nc
	log := platform.Logger("auth-test")
	if err := s.register(log); err != nil {
		t.Fatal(err)
	}
	reg := platform.RegisterRequest{Email: "Ana@Example.com", Name: "Ana", Password: "correct horse"}

	// no assets service answers: the user must not stay
	var pe *platform.Error
	if err := platform.Request(ctx, nc, platform.SubjAuthRegister, reg, nil); !errors.As(err, &pe) || pe.Code != platform.CodeUnavailable {
		t.Fatalf("register without assets: %v", err)
	}
	if n, _ := s.users.CountDocuments(ctx, bson.M{}); n != 0 {
		t.Fatalf("%d users left behind", n)
	}

	owners := make(chan platform.Owner, 4)
	platform.Handle(nc, log, "assets", platform.SubjOwnerCreate, func(ctx context.Context, data []byte) (any, error) {
		var o platform.Owner
		platform.Decode(data, &o)
		owners <- o
		return o, nil
	})
	var res platform.AuthResult
	if err := platform.Request(ctx, nc, platform.SubjAuthRegister, reg, &res); err != nil {
		t.Fatal(err)
	}
	if o := <-owners; o.ID != res.User.ID || o.Email != "ana@example.com" {
		t.Errorf("owner %+v for user %+v", o, res.User)
	}
	if err := platform.Request(ctx, nc, platform.SubjAuthRegister, reg, nil); !errors.As(err, &pe) || pe.Code != platform.CodeConflict {
		t.Errorf("duplicate: %v", err)
	}
	var login platform.AuthResult
	if err := platform.Request(ctx, nc, platform.SubjAuthLogin, platform.LoginRequest{Email: "ana@example.com", Password: "correct horse"}, &login); err != nil {
		t.Fatal(err)
	}
	if err := platform.Request(ctx, nc, platform.SubjAuthLogin, platform.LoginRequest{Email: "ana@example.com", Password: "nope"}, nil); !errors.As(err, &pe) || pe.Code != platform.CodeUnauthorized {
		t.Errorf("wrong password: %v", err)
	}
	var u platform.User
	if err := platform.Request(ctx, nc, platform.SubjAuthVerify, platform.VerifyRequest{Token: login.Token}, &u); err != nil || u.ID != res.User.ID {
		t.Errorf("verify: %+v %v", u, err)
	}
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": u.ID, "iss": "auth", "exp": time.Now().Add(-time.Minute).Unix()}).SignedString([]byte("test-key"))
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": u.ID, "iss": "auth", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("other-key"))
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": u.ID, "iss": "auth", "exp": time.Now().Add(time.Hour).Unix()})
	unsigned, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	for name, tok := range map[string]string{"expired": expired, "forged": forged, "alg none": unsigned, "garbage": "x.y.z"} {
		if err := platform.Request(ctx, nc, platform.SubjAuthVerify, platform.VerifyRequest{Token: tok}, nil); !errors.As(err, &pe) || pe.Code != platform.CodeUnauthorized {
			t.Errorf("%s token: %v", name, err)
		}
	}
}
