import { describe, expect, test } from "bun:test";
import cassandra from "cassandra-driver";
import { ReplyError } from "ioredis";
import { MaxRetriesPerRequestError } from "ioredis/built/errors";
import { KafkaJSConnectionError, KafkaJSError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from "kafkajs";
import { asUnavailable, outageOf } from "../../src/clients/outage";
import { AppError } from "../../src/errors";

const { errors, types } = cassandra;
const coded = (code: string, message = "boom") => Object.assign(new Error(message), { code });

describe("an outage is told from a rejection by the error's type and code", () => {
  test("Cassandra: no host, a client timeout and the retryable response codes are outages; a syntax error is not", () => {
    expect(outageOf(new errors.NoHostAvailableError({}, "all down"))).toBe("cassandra");
    expect(outageOf(new errors.OperationTimedOutError("no answer", "127.0.0.1:9042"))).toBe("cassandra");
    expect(outageOf(new errors.ResponseError(types.responseErrorCodes.unavailableException, "not enough replicas"))).toBe("cassandra");
    expect(outageOf(new errors.ResponseError(types.responseErrorCodes.writeTimeout, "write timeout"))).toBe("cassandra");
    expect(outageOf(new errors.ResponseError(types.responseErrorCodes.syntaxError, "line 1: no viable alternative"))).toBeUndefined();
    expect(outageOf(new errors.ResponseError(types.responseErrorCodes.invalid, "unavailable"))).toBeUndefined(); // the word does not count
  });

  test("Kafka: retriable errors and exhausted retries are outages; a non-retriable answer is not", () => {
    expect(outageOf(new KafkaJSConnectionError("Connection error: ECONNREFUSED"))).toBe("kafka");
    expect(outageOf(new KafkaJSNumberOfRetriesExceeded(new KafkaJSError("x"), { retryCount: 5, retryTime: 1000 }))).toBe("kafka");
    const refused = new KafkaJSConnectionError("refused");
    expect(outageOf(Object.assign(new KafkaJSNonRetriableError(refused), { cause: refused }))).toBe("kafka"); // its cause was transient
    expect(outageOf(new KafkaJSNonRetriableError(new Error("bad request")))).toBeUndefined();
    expect(outageOf(Object.assign(new KafkaJSProtocolError("TOPIC_AUTHORIZATION_FAILED"), { retriable: false }))).toBeUndefined();
  });

  test("Redis: a lost connection, exhausted retries and transient replies are outages; a wrong command is not", () => {
    expect(outageOf(new Error("Connection is closed."))).toBe("redis");
    expect(outageOf(new MaxRetriesPerRequestError(2))).toBe("redis");
    expect(outageOf(new ReplyError("LOADING Redis is loading the dataset in memory"))).toBe("redis");
    expect(outageOf(new ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value"))).toBeUndefined();
    expect(outageOf(new Error("connection is closed"))).toBeUndefined(); // not ioredis's message
  });

  test("PostgreSQL: connection, shutdown and serialization states are outages; a constraint violation is not", () => {
    expect(outageOf(coded("57P01"))).toBe("postgres");
    expect(outageOf(coded("40001"))).toBe("postgres");
    expect(outageOf(coded("CONNECTION_CLOSED"))).toBe("postgres");
    expect(outageOf(coded("23505", "duplicate key value violates unique constraint"))).toBeUndefined();
  });

  test("a socket error is an outage of the client the caller names", () => {
    expect(outageOf(coded("ECONNREFUSED"))).toBe("network");
    expect(asUnavailable(coded("ECONNRESET"), "redis")?.component).toBe("redis");
    expect(asUnavailable(coded("ECONNRESET"))?.message).toContain("a store is unavailable");
  });

  test("an outage becomes UNAVAILABLE with canRetry; anything else stays unexplained", () => {
    const unavailable = asUnavailable(new errors.NoHostAvailableError({}, "all down"));
    expect(unavailable).toBeInstanceOf(AppError);
    expect([unavailable?.code, unavailable?.canRetry, unavailable?.component]).toEqual(["UNAVAILABLE", true, "cassandra"]);
    expect(asUnavailable(new Error("a bug"))).toBeUndefined();
    expect(asUnavailable(new AppError("POST_NOT_FOUND", "no such post"))).toBeUndefined();
  });
});
