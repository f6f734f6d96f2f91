// The operator's RollObserver: ZooKeeper by four-letter words, Kafka by its admin API, Redis by the
// orchestrator's reads (with the tier's admin ACL user). One per tier per pass.
import { RedisRollObserver } from '../redis/roll.js';
import { KafkaRollObserver } from './observe-kafka.js';
import { ZooKeeperRollObserver } from './observe-zookeeper.js';
import type { RollObserverFactory } from './types.js';

export function createRollObservers(): RollObserverFactory {
  const zookeeper = new ZooKeeperRollObserver();
  const kafka = new KafkaRollObserver();
  return {
    forTier: (auth) => {
      const redis = new RedisRollObserver({
        ...(auth.redisUsername ? { username: auth.redisUsername } : {}),
        ...(auth.redisPassword ? { password: auth.redisPassword } : {}),
      });
      return {
        zookeeper: (pods) => zookeeper.zookeeper(pods),
        kafka: (pods) => kafka.kafka(pods),
        redis: (pods) => redis.redis(pods),
        redisFailover: (pods, master, replica) => redis.redisFailover(pods, master, replica),
      };
    },
  };
}
