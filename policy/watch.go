package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"gatehouse.dev/gatehouse/policy/api/v1alpha1"
)

// Resources served by the policy CRDs.
var (
	ClusterImagePolicies = schema.GroupVersionResource{Group: v1alpha1.Group, Version: v1alpha1.Version, Resource: "clusterimagepolicies"}
	ImagePolicies        = schema.GroupVersionResource{Group: v1alpha1.Group, Version: v1alpha1.Version, Resource: "imagepolicies"}
)

// Sources of policies, the names used with NewStore and Synced.
const (
	SourceCluster = "cluster"
	SourceFiles   = "files"
)

// Watch keeps store in step with the policy resources in the cluster until
// ctx ends. It marks SourceCluster synced once both informers have listed.
func Watch(ctx context.Context, client dynamic.Interface, store *Store, log *slog.Logger) error {
	factory := dynamicinformer.NewDynamicSharedInformerFactory(client, 0)
	var synced []cache.InformerSynced
	for _, gvr := range []schema.GroupVersionResource{ClusterImagePolicies, ImagePolicies} {
		inf := factory.ForResource(gvr).Informer()
		if _, err := inf.AddEventHandler(handler(store, log)); err != nil {
			return err
		}
		synced = append(synced, inf.HasSynced)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("policy watch: caches did not sync: %w", ctx.Err())
	}
	store.Synced(SourceCluster)
	<-ctx.Done()
	factory.Shutdown()
	return nil
}

func handler(store *Store, log *slog.Logger) cache.ResourceEventHandlerFuncs {
	apply := func(obj any) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return
		}
		o, err := fromUnstructured(u)
		if err != nil {
			store.refuse(SourceCluster, idOf(u), u.GetGeneration(), err)
		} else {
			err = store.Apply(o)
		}
		if err != nil {
			log.Error("policy refused; its previous revision, if any, keeps serving", "policy", idOf(u), "error", err)
			return
		}
		log.Info("policy loaded", "policy", o.ID(), "resourceVersion", u.GetResourceVersion())
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: apply,
		UpdateFunc: func(old, obj any) {
			if sameSpec(old, obj) {
				return // a status or metadata write: nothing to compile
			}
			apply(obj)
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if u, ok := obj.(*unstructured.Unstructured); ok {
				store.Delete(SourceCluster, idOf(u))
				log.Info("policy deleted", "policy", idOf(u))
			}
		},
	}
}

// sameSpec reports whether an update left the spec as it was (gatehouse's
// own status writes, labels, annotations).
func sameSpec(old, obj any) bool {
	o, ok1 := old.(*unstructured.Unstructured)
	n, ok2 := obj.(*unstructured.Unstructured)
	return ok1 && ok2 && o.GetGeneration() == n.GetGeneration() && equality.Semantic.DeepEqual(o.Object["spec"], n.Object["spec"])
}

func fromUnstructured(u *unstructured.Unstructured) (Object, error) {
	data, err := json.Marshal(u.Object)
	if err != nil {
		return Object{}, err
	}
	o, err := Decode(data)
	o.Source = SourceCluster
	return o, err
}

func idOf(u *unstructured.Unstructured) string {
	return Object{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}.ID()
}
