// Package cluster shards any nearkit index across a host application's own
// nodes: placement of logical shards, replicas, hedged scatter-gather
// search, and shard moves. The repository README ("Durability and sharding") draws the model.
package cluster
