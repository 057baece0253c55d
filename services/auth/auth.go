package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go"
	"github.com/propital/launcher/services/internal/platform"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"golang.org/x/crypto/bcrypt"
)

type service struct {
	users  *mongo.Collection
	secret []byte
	ttl    time.Duration
	nc     *nats.Conn
	cost   int
}

type userDoc struct {
	ID           string    `bson:"_id"`
	Email        string    `bson:"email"`
	Name         string    `bson:"name"`
	PasswordHash []byte    `bson:"password_hash"`
	CreatedAt    time.Time `bson:"created_at"`
}

func newService(ctx context.Context, db *mongo.Database, secret []byte, ttl time.Duration) (*service, error) {
	users := db.Collection("users")
	_, err := users.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("email_unique")})
	if err != nil {
		return nil, fmt.Errorf("create email index: %w", err)
	}
	return &service{users: users, secret: secret, ttl: ttl, cost: bcrypt.DefaultCost}, nil
}

func (s *service) register(log *slog.Logger) error {
	for subj, h := range map[string]platform.Handler{
		platform.SubjAuthRegister: s.handleRegister,
		platform.SubjAuthLogin:    s.handleLogin,
		platform.SubjAuthVerify:   s.handleVerify,
	} {
		if err := platform.Handle(s.nc, log, "auth", subj, h); err != nil {
			return err
		}
	}
	return nil
}

func (s *service) handleRegister(ctx context.Context, data []byte) (any, error) {
	var req platform.RegisterRequest
	if err := platform.Decode(data, &req); err != nil {
		return nil, err
	}
	req.Email = strings.ToLower(strings.TrimSpace(req.Email))
	req.Name = strings.TrimSpace(req.Name)
	if a, err := mail.ParseAddress(req.Email); err != nil || a.Address != req.Email {
		return nil, platform.Errorf(platform.CodeInvalid, "email is not a valid address")
	}
	if req.Name == "" || len(req.Name) > 200 {
		return nil, platform.Errorf(platform.CodeInvalid, "name is required (at most 200 characters)")
	}
	if len(req.Password) < 8 || len(req.Password) > 72 {
		return nil, platform.Errorf(platform.CodeInvalid, "password must be 8 to 72 characters")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), s.cost)
	if err != nil {
		return nil, err
	}
	u := userDoc{ID: platform.NewID(), Email: req.Email, Name: req.Name, PasswordHash: hash, CreatedAt: time.Now().UTC()}
	if _, err := s.users.InsertOne(ctx, u); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return nil, platform.Errorf(platform.CodeConflict, "an account with this email exists")
		}
		return nil, err
	}
	owner := platform.Owner{ID: u.ID, Email: u.Email, Name: u.Name}
	if err := platform.Request(ctx, s.nc, platform.SubjOwnerCreate, owner, nil); err != nil {
		// the user must not exist without its owner record
		if _, derr := s.users.DeleteOne(context.WithoutCancel(ctx), bson.M{"_id": u.ID}); derr != nil {
			return nil, fmt.Errorf("create owner: %v; and removing the user failed: %w", err, derr)
		}
		var pe *platform.Error
		if errors.As(err, &pe) {
			return nil, platform.Errorf(platform.CodeUnavailable, "could not create the account's owner record: %s", pe.Message)
		}
		return nil, err
	}
	return s.result(u)
}

func (s *service) handleLogin(ctx context.Context, data []byte) (any, error) {
	var req platform.LoginRequest
	if err := platform.Decode(data, &req); err != nil {
		return nil, err
	}
	var u userDoc
	err := s.users.FindOne(ctx, bson.M{"email": strings.ToLower(strings.TrimSpace(req.Email))}).Decode(&u)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, platform.Errorf(platform.CodeUnauthorized, "wrong email or password")
	}
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(req.Password)) != nil {
		return nil, platform.Errorf(platform.CodeUnauthorized, "wrong email or password")
	}
	return s.result(u)
}

type claims struct {
	Email string `json:"email"`
	Name  string `json:"name"`
	jwt.RegisteredClaims
}

func (s *service) result(u userDoc) (platform.AuthResult, error) {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{Email: u.Email, Name: u.Name, RegisteredClaims: jwt.RegisteredClaims{
		Subject: u.ID, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(s.ttl)), Issuer: "auth",
	}})
	signed, err := tok.SignedString(s.secret)
	if err != nil {
		return platform.AuthResult{}, err
	}
	return platform.AuthResult{User: platform.User{ID: u.ID, Email: u.Email, Name: u.Name}, Token: signed}, nil
}

func (s *service) handleVerify(ctx context.Context, data []byte) (any, error) {
	var req platform.VerifyRequest
	if err := platform.Decode(data, &req); err != nil {
		return nil, err
	}
	var c claims
	_, err := jwt.ParseWithClaims(req.Token, &c, func(t *jwt.Token) (any, error) { return s.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuer("auth"))
	if err != nil {
		msg := "invalid token"
		if errors.Is(err, jwt.ErrTokenExpired) {
			msg = "token expired"
		}
		return nil, platform.Errorf(platform.CodeUnauthorized, "%s", msg)
	}
	return platform.User{ID: c.Subject, Email: c.Email, Name: c.Name}, nil
}
