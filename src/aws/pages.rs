//! Listings page by page, each page one `Aws::send`.

use super::{Aws, AwsError};
use crate::model::retry::ErrorClass;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ProvideErrorKind;
use std::future::Future;

/// A listing read one page at a time: a page is fetched only when asked
/// for, so a caller that stops early (it found what it looked for) sends
/// no further requests.
pub struct Pages<'a, P, E, F> {
    aws: &'a Aws,
    operation: &'static str,
    call: F,
    next: fn(&P) -> Option<&str>,
    specific: fn(&E) -> Option<ErrorClass>,
    token: Option<String>,
    done: bool,
}

impl Aws {
    /// The pages of a listing: `call` sends the request for the page the
    /// token names (none: the first), `next` reads the next page's token
    /// from a page (none or empty: that was the last), `specific` is as in
    /// [`Aws::send`], which sends every page. Not the SDK's paginators:
    /// they send each page themselves, past cairn's error classes, retries,
    /// pacing and call counts.
    pub fn pages<P, E, F, Fut>(
        &self,
        operation: &'static str,
        call: F,
        next: fn(&P) -> Option<&str>,
        specific: fn(&E) -> Option<ErrorClass>,
    ) -> Pages<'_, P, E, F>
    where
        F: FnMut(Option<String>) -> Fut,
        Fut: Future<Output = Result<P, SdkError<E, HttpResponse>>>,
        E: ProvideErrorKind + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        Pages {
            aws: self,
            operation,
            call,
            next,
            specific,
            token: None,
            done: false,
        }
    }
}

impl<P, E, F, Fut> Pages<'_, P, E, F>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<P, SdkError<E, HttpResponse>>>,
    E: ProvideErrorKind + ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    /// The next page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<P>, AwsError> {
        if self.done {
            return Ok(None);
        }
        let token = self.token.clone();
        let call = &mut self.call;
        let page = self
            .aws
            .send(self.operation, || call(token.clone()), self.specific)
            .await?;
        match (self.next)(&page).filter(|next| !next.is_empty()) {
            Some(next) => self.token = Some(next.to_owned()),
            None => self.done = true,
        }
        Ok(Some(page))
    }

    /// Every page, in order.
    pub async fn all(mut self) -> Result<Vec<P>, AwsError> {
        let mut pages = Vec::new();
        while let Some(page) = self.next_page().await? {
            pages.push(page);
        }
        Ok(pages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
    use std::sync::Mutex;

    struct Page {
        number: usize,
        next: Option<&'static str>,
    }

    type Answer = Result<Page, SdkError<GetCallerIdentityError, HttpResponse>>;

    /// A listing of `tokens.len()` pages: page n names `tokens[n]` as the
    /// next one. Records the token each request carried.
    fn listing<'a>(
        tokens: &'a [Option<&'static str>],
        sent: &'a Mutex<Vec<Option<String>>>,
    ) -> impl FnMut(Option<String>) -> std::future::Ready<Answer> + 'a {
        move |token| {
            let mut sent = sent.lock().unwrap();
            let number = sent.len();
            sent.push(token);
            std::future::ready(Ok(Page {
                number,
                next: tokens[number],
            }))
        }
    }

    fn next(page: &Page) -> Option<&str> {
        page.next
    }

    #[tokio::test]
    async fn every_page_is_read_with_the_token_the_one_before_named() {
        let aws = Aws::offline();
        let sent = Mutex::new(Vec::new());
        let tokens = [Some("b"), Some("c"), None];
        let pages = aws
            .pages("List", listing(&tokens, &sent), next, |_| None)
            .all()
            .await
            .unwrap();
        assert_eq!(
            pages.iter().map(|p| p.number).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(
            *sent.lock().unwrap(),
            [None, Some("b".to_owned()), Some("c".to_owned())]
        );
    }

    #[tokio::test]
    async fn an_empty_token_ends_the_listing() {
        let aws = Aws::offline();
        let sent = Mutex::new(Vec::new());
        let tokens = [Some("b"), Some(""), Some("never")];
        let pages = aws
            .pages("List", listing(&tokens, &sent), next, |_| None)
            .all()
            .await
            .unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(sent.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_caller_that_stops_early_sends_no_further_request() {
        let aws = Aws::offline();
        let sent = Mutex::new(Vec::new());
        let tokens = [Some("b"), Some("c"), None];
        let mut pages = aws.pages("List", listing(&tokens, &sent), next, |_| None);
        assert_eq!(pages.next_page().await.unwrap().map(|p| p.number), Some(0));
        drop(pages);
        assert_eq!(sent.lock().unwrap().len(), 1);
    }
}
